# expect: memory|timeout
# `replace` doubling the string each round: whichever limit comes first.
def handler(event, context):
    s = 'a'
    while True:
        s = s.replace('a', 'aa')
