# expect: raised RecursionError
# Mutual recursion stops the same way.
def even(n):
    return True if n == 0 else odd(n - 1)


def odd(n):
    return False if n == 0 else even(n - 1)


def handler(event, context):
    return even(10 ** 6)
