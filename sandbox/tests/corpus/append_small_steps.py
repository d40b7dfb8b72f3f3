# expect: memory
# Growing a little at a time: 200-byte strings appended.
def handler(event, context):
    xs = []
    while True:
        xs.append('z' * 200 + str(len(xs)))
