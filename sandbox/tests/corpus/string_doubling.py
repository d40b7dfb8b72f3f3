# expect: memory|timeout
# A string that doubles: out of memory, or refused first as a step too big for the time left.
def handler(event, context):
    s = 'ab'
    while True:
        s = s + s
