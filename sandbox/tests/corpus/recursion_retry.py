# expect: timeout
# Catching RecursionError and recursing again: exponential work.
def f(n):
    try:
        return f(n + 1)
    except RecursionError:
        return f(n + 1)


def handler(event, context):
    return f(0)
