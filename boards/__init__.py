"""Board descriptions: one validated YAML file per board in this folder."""
from .board import Board, BoardError, UnknownBoard, known_boards, load_board

__all__ = ["Board", "BoardError", "UnknownBoard", "known_boards", "load_board"]
