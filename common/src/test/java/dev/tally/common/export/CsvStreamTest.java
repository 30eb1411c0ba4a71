package dev.tally.common.export;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class CsvStreamTest {
  @Test
  void cellsAreQuotedWhenNeededAndFormulasDefused() {
    assertEquals("gpt-4o", CsvStream.cell("gpt-4o"));
    assertEquals("\"a,b\"", CsvStream.cell("a,b"));
    assertEquals("\"say \"\"hi\"\"\"", CsvStream.cell("say \"hi\""));
    assertEquals("'=HYPERLINK(1)", CsvStream.cell("=HYPERLINK(1)"));
    assertEquals("\"'=1,2\"", CsvStream.cell("=1,2"));
    assertEquals("'-5", CsvStream.cell("-5"), "a string that looks like a formula; amounts are numbers");
    assertEquals("", CsvStream.cell(""));
  }

  @Test
  void amountsAreExactDecimals() {
    assertEquals("0.0018", CsvStream.amount(1_800_000).toPlainString());
    assertEquals("1", CsvStream.amount(1_000_000_000).toPlainString());
    assertEquals("10", CsvStream.amount(10_000_000_000L).toPlainString());
    assertEquals("0", CsvStream.amount(0).toPlainString());
    assertEquals("0.000000001", CsvStream.amount(1).toPlainString());
    assertEquals("9223372036.854775807", CsvStream.amount(Long.MAX_VALUE).toPlainString());
    assertEquals("-0.5", CsvStream.amount(-500_000_000).toPlainString());
  }
}
