"""Measuring and predicting: KPIs, the dashboard, the monthly report, aging reports, the cash
forecast, scoring."""
