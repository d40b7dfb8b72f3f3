# expect: timeout
# A builtin looping in Rust over a huge range.
def handler(event, context):
    return sum(range(10 ** 15))
