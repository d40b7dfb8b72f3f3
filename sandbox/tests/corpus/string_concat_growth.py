# expect: memory|timeout
# `s +=` in 10 KB steps, each step a copy: whichever limit comes first.
def handler(event, context):
    s = ''
    while True:
        s += 'x' * 10000
