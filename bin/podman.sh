# Sourced by bin/images and bin/images-smoke: podman as it runs on these machines (no Docker daemon).
# runc, because crun refuses the hybrid cgroups here; cgroupfs, as there is no systemd; explicit ulimits,
# because the runtime may not raise a limit to the host's own values (nproc, nofile) inside this VM.
tally_podman() {
  podman --runtime runc --cgroup-manager=cgroupfs "$@"
}

# Flags for `podman run`: limits the container may set here.
tally_podman_limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)

# Installs podman, runc and debootstrap from Debian's packages when they are missing (needs root).
tally_podman_install() {
  if command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null; then
    return
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "podman, runc and debootstrap are needed (Debian: apt-get install podman runc debootstrap)" >&2
    exit 1
  fi
  echo "== installing podman, runc, debootstrap (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
}
