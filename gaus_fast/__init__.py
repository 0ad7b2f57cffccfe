"""gaus_fast: differentiable operator scheduling with Gaussian start times (GauS), made fast."""
from .problem import OperatorType, Problem, ProblemError, ResourceType
from .schedule import Schedule

__version__ = "0.1.0"
__all__ = ["OperatorType", "Problem", "ProblemError", "ResourceType", "Schedule", "__version__"]
