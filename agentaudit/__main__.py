from agentaudit.cli import main

main()
