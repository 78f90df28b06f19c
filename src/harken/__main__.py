from harken.cli.main import app

app()
