"""Identity documents and labels (WeasyPrint PDFs), label formats and profiles, the INS datamatrix and its screens."""
