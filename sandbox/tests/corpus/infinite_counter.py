# expect: timeout
# Counting for ever.
def handler(event, context):
    i = 0
    while True:
        i += 1
