"""Inside Excel: the secretariat workbook and the xlwings converters (the UDFs themselves are szqa_xl.udfs)."""
