"""Stage 5: the Graph lowered to a torch.nn.Module, verified, exported and profiled. torch is
imported only inside the functions that need it. Imports core to analysis."""
