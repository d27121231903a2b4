print("nfx")
