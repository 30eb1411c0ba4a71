package dev.tally.common.ids;

import dev.tally.common.error.TallyException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Opaque keyset page tokens: the sort key of the last row returned, tagged with the list it belongs to so
 * a token of one list cannot be replayed against another.
 */
public final class PageTokens {
  public static final int DEFAULT_PAGE_SIZE = 50;
  private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder DECODER = Base64.getUrlDecoder();

  private PageTokens() {}

  public static String encode(String list, String lastKey) {
    return ENCODER.encodeToString((list + "\n" + lastKey).getBytes(StandardCharsets.UTF_8));
  }

  /** The last key of the previous page, or {@code null} for the first page. */
  public static String decode(String list, String token) {
    if (token == null || token.isEmpty()) {
      return null;
    }
    try {
      String raw = new String(DECODER.decode(token), StandardCharsets.UTF_8);
      int nl = raw.indexOf('\n');
      if (nl < 0 || !raw.substring(0, nl).equals(list)) {
        throw TallyException.invalidArgument("page_token", "not a page token of this list");
      }
      return raw.substring(nl + 1);
    } catch (IllegalArgumentException e) {
      throw TallyException.invalidArgument("page_token", "malformed page token");
    }
  }

  public static int pageSize(int requested) {
    return requested <= 0 ? DEFAULT_PAGE_SIZE : requested;
  }
}
