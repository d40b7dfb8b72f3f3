# expect: timeout
# Printing for ever: output is discarded, time still counts.
def handler(event, context):
    while True:
        print('x' * 1000)
