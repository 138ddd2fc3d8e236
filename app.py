from kyodo_fund.factory import create_app

app = create_app()
