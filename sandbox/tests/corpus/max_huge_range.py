# expect: timeout
# `max` over a huge range, in Rust.
def handler(event, context):
    return max(range(10 ** 15))
