# expect: memory|timeout
# Growing a little at a time: 200-byte strings appended. Out of memory, or out of time first where a step of the growth is refused as too big for the time left.
def handler(event, context):
    xs = []
    while True:
        xs.append('z' * 200 + str(len(xs)))
