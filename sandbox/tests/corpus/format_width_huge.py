# expect: memory|timeout
# A format width of 10**9: padded step by step: whichever limit comes first.
def handler(event, context):
    return len('{:>1000000000}'.format('x'))
