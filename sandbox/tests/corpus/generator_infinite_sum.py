# expect: compile
# An infinite generator: monty refuses `yield` when the function is saved.
def gen():
    while True:
        yield 1


def handler(event, context):
    return sum(gen())
