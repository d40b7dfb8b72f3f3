# expect: memory|timeout
# A set growing with distinct strings: whichever limit comes first.
def handler(event, context):
    s = set()
    i = 0
    while True:
        s.add('y' * 500 + str(i))
        i += 1
