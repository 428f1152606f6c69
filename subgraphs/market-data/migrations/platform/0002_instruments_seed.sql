-- The default instrument catalog: US equities, ETFs, FX pairs and crypto, with the simulator's
-- parameters (starting price, annualized drift and volatility, spread in basis points). Re-running is
-- harmless; operators may change rows afterwards (the seed never overwrites them).
INSERT INTO "market"."instruments"
	("symbol", "name", "asset_class", "currency", "tick_size", "lot_size", "base_price", "drift", "volatility", "spread_bps")
VALUES
	('AAPL',  'Apple Inc.',                          'EQUITY', 'USD', 0.01,    1,      190.00,   0.08, 0.25, 1.0),
	('MSFT',  'Microsoft Corporation',               'EQUITY', 'USD', 0.01,    1,      420.00,   0.09, 0.22, 1.0),
	('NVDA',  'NVIDIA Corporation',                  'EQUITY', 'USD', 0.01,    1,      120.00,   0.15, 0.50, 1.5),
	('AMZN',  'Amazon.com, Inc.',                    'EQUITY', 'USD', 0.01,    1,      185.00,   0.10, 0.32, 1.0),
	('GOOGL', 'Alphabet Inc. Class A',               'EQUITY', 'USD', 0.01,    1,      170.00,   0.08, 0.28, 1.0),
	('META',  'Meta Platforms, Inc.',                'EQUITY', 'USD', 0.01,    1,      500.00,   0.10, 0.38, 1.0),
	('TSLA',  'Tesla, Inc.',                         'EQUITY', 'USD', 0.01,    1,      250.00,   0.05, 0.60, 2.0),
	('JPM',   'JPMorgan Chase & Co.',                'EQUITY', 'USD', 0.01,    1,      200.00,   0.06, 0.22, 1.5),
	('V',     'Visa Inc.',                           'EQUITY', 'USD', 0.01,    1,      280.00,   0.07, 0.18, 1.5),
	('XOM',   'Exxon Mobil Corporation',             'EQUITY', 'USD', 0.01,    1,      115.00,   0.04, 0.25, 1.5),
	('SPY',   'SPDR S&P 500 ETF Trust',              'ETF',    'USD', 0.01,    1,      550.00,   0.07, 0.16, 0.5),
	('QQQ',   'Invesco QQQ Trust',                   'ETF',    'USD', 0.01,    1,      480.00,   0.09, 0.21, 0.5),
	('IWM',   'iShares Russell 2000 ETF',            'ETF',    'USD', 0.01,    1,      210.00,   0.06, 0.23, 1.0),
	('GLD',   'SPDR Gold Shares',                    'ETF',    'USD', 0.01,    1,      220.00,   0.03, 0.14, 1.0),
	('TLT',   'iShares 20+ Year Treasury Bond ETF',  'ETF',    'USD', 0.01,    1,       95.00,   0.01, 0.16, 1.0),
	('EURUSD','Euro / US Dollar',                    'FX',     'USD', 0.00001, 1000,     1.08500, 0.00, 0.07, 0.8),
	('GBPUSD','British Pound / US Dollar',           'FX',     'USD', 0.00001, 1000,     1.27000, 0.00, 0.08, 1.0),
	('USDJPY','US Dollar / Japanese Yen',            'FX',     'JPY', 0.001,   1000,   155.000,   0.00, 0.09, 1.0),
	('AUDUSD','Australian Dollar / US Dollar',       'FX',     'USD', 0.00001, 1000,     0.66000, 0.00, 0.10, 1.2),
	('USDCHF','US Dollar / Swiss Franc',             'FX',     'CHF', 0.00001, 1000,     0.90000, 0.00, 0.08, 1.2),
	('BTCUSD','Bitcoin / US Dollar',                 'CRYPTO', 'USD', 0.01,    0.0001, 65000.00, 0.10, 0.60, 5.0),
	('ETHUSD','Ether / US Dollar',                   'CRYPTO', 'USD', 0.01,    0.001,   3200.00, 0.10, 0.75, 6.0),
	('SOLUSD','Solana / US Dollar',                  'CRYPTO', 'USD', 0.01,    0.01,     150.00, 0.10, 1.00, 8.0),
	('DOGEUSD','Dogecoin / US Dollar',               'CRYPTO', 'USD', 0.00001, 1,          0.15000, 0.00, 1.10, 10.0)
ON CONFLICT ("symbol") DO NOTHING;
