"""NPO法人 legal status and certification (certification.md): deadline rules for establishment, 事業報告書,
認定/特例認定 and 県指定 (``rules``, calendar and 実績判定期間 in ``dates``), the public support test (``pst`` groups
gifts into household units and judges pre-aggregated rows; ``pst_relative`` is the relative standard, ``pst_result``
the output), its CSV inputs (``pst_files``) and ``flask pst check`` (``cli``). DB-backed status history comes later.
"""
