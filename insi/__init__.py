"""The INSi teleservice: zeep client, transport seam, exchange log and simulator."""
