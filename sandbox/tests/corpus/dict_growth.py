# expect: memory|timeout
# A dict growing one kilobyte entry at a time: whichever limit comes first.
def handler(event, context):
    d = {}
    i = 0
    while True:
        d[i] = 'x' * 1000 + str(i)
        i += 1
