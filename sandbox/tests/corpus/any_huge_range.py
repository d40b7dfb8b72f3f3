# expect: memory|timeout
# `any` over a huge generator expression: monty builds it as a list: whichever limit comes first.
def handler(event, context):
    return any(x < 0 for x in range(10 ** 15))
