# expect: timeout
# bound: watchdog (one uninterruptible multiplication; see docs/sandbox.md)
# Squaring an integer: one multiplication of megabyte integers runs in Rust without a time check.
def handler(event, context):
    x = 3
    while True:
        x = x * x
