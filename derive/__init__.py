"""derive: gradient descent and backpropagation, derived (SymPy), evaluated (NumPy) and
worked step by step (Jinja), after the lecture "Gradient Descent and Training Neural Networks".
"""

__version__ = "0.1.0"
