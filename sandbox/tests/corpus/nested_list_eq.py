# expect: memory
# Comparing two 100,000-deep lists: monty compares with its own stack, not the native one.
def handler(event, context):
    a = []
    b = []
    for _ in range(100000):
        a = [a]
        b = [b]
    return a == b
