# expect: toolarge
# A list of 300,000 numbers.
def handler(event, context):
    return list(range(300000))
