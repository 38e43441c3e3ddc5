# Sourced by the test scripts of other targets: `skip_unless_target TARGET WHAT` exits the
# script with a loud SKIPPED (status 0) when the rustup target is not installed.
skip_unless_target() {
    if ! rustup target list --installed | grep -qx "$1"; then
        echo "!!! SKIPPED: $2 (rustup target $1 is not installed;"
        echo "!!! bash scripts/install-cross.sh adds it)"
        exit 0
    fi
}
