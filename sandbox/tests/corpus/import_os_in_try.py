# expect: compile
# Hiding the import in try/except does not help.
def handler(event, context):
    try:
        import os
    except ImportError:
        return 'no os'
    return os.getcwd()
