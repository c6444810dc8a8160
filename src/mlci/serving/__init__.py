"""What a served or released model carries with it: the bundle (model, contract, metadata) and the release's files."""
