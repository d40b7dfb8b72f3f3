# expect: memory|timeout
# Dicts of lists of strings growing together: whichever limit comes first.
def handler(event, context):
    d = {}
    i = 0
    while True:
        d[str(i)] = ['q' * 100] * 100
        d[str(i)] = [x + str(i) for x in d[str(i)]]
        i += 1
