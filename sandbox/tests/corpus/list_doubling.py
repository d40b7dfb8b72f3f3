# expect: memory
# A list that doubles until something gives.
def handler(event, context):
    x = [1]
    while True:
        x = x + x
