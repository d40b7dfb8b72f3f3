# expect: toolarge
# A 2 MB string answer.
def handler(event, context):
    return 'x' * 2000000
