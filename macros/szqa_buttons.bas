Attribute VB_Name = "szqa_buttons"
' Buttons of the secretariat workbook (szqa_secretariat.xlsm).
'
' Each macro hands over to Python through xlwings' RunPython, which is defined in
' the "xlwings" VBA module already embedded in the workbook. Python reads its
' parameters from the named cells of the control sheet and writes the outcome
' to the status cell (szqa_status).
'
' Import: VBA editor (Alt+F11) > File > Import File... > szqa_buttons.bas
' Then assign the macros to buttons (Developer > Insert > Button).
'
' Kept ASCII-only on purpose: the VBA editor reads .bas files in the system
' code page, so Chinese text here would be garbled on import.
Option Explicit

Public Sub SzqaGenerate()
    ' Generate one scoresheet per roster row, plus manifest.csv.
    RunPython "import szqa_xl.udfs as u; u.macro_generate()"
End Sub

Public Sub SzqaConsolidate()
    ' Consolidate the returns folder into consolidated.xlsx and scores.csv.
    RunPython "import szqa_xl.udfs as u; u.macro_consolidate()"
End Sub

Public Sub SzqaOpenOutput()
    ' Open the output folder in Explorer.
    RunPython "import szqa_xl.udfs as u; u.macro_open_output()"
End Sub
