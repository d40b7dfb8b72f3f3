# expect: timeout
# The plainest infinite loop.
def handler(event, context):
    while True:
        pass
