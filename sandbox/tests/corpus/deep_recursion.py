# expect: raised RecursionError
# Unbounded recursion stops at the depth limit.
def f(n):
    return f(n + 1)


def handler(event, context):
    return f(0)
