# expect: timeout
# Two integers multiplied into each other: each step roughly doubles both; the step too big
# for the time left is refused before the multiplication runs.
def handler(event, context):
    x = 7
    y = 11
    while True:
        x = x * y
        y = y * x
