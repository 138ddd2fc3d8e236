"""The fund's money ledger: double-entry, append-only, integer yen, one group of entries summing to zero per
business event (gift, refund delta, dispute step, grant), guarded by ``UNIQUE(source_ref, kind)``.

Accounts are named by stable keys (``fund:project:7``), so it imports neither donations nor projects;
``models`` holds the chart of accounts, ``services`` the posting and reading functions with worked examples.
"""
