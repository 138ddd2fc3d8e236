"""Receipts (寄附金受領証明書 / 領収書) and annual statements. ``snapshot``: the frozen record of exactly what
a document prints, stored as JSON so it re-renders byte for byte; ``pdf``: ``render_receipt`` (reportlab with
built-in CID fonts, no global state) and ``validate_snapshot`` (the Japanese list of missing mandatory fields).
Numbering, voids, reissues and delivery arrive with the receipts blueprint."""
