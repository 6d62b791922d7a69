"""Event-driven simulation of the shuttle service with FleetPy/MATSim-style KPIs."""

from fleet.simulation.simulator import SimulationConfig, SimulationResult, run_simulation

__all__ = ["SimulationConfig", "SimulationResult", "run_simulation"]
