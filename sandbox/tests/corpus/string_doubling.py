# expect: memory
# A string that doubles.
def handler(event, context):
    s = 'ab'
    while True:
        s = s + s
