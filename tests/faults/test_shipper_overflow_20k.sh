#!/usr/bin/env bash
# The overflow scenario at full size: 20,000 results published while
# the sidecar is frozen, against the kernel's own inotify queue size.
export SHIP_OVERFLOW_QUEUE=keep SHIP_OVERFLOW_COUNT=20000
exec "$(dirname "$0")/../e2e/test_shipper_overflow.sh"
