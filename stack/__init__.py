"""Starting and stopping the processes of the stack: embedded servers and our own services."""
