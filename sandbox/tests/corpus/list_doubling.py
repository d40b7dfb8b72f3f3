# expect: memory|timeout
# A list that doubles until something gives. Out of memory, or out of time first where a step of the growth is refused as too big for the time left.
def handler(event, context):
    x = [1]
    while True:
        x = x + x
