"""Fleet optimiser: dial-a-ride solvers, online dispatch and simulation."""
