"""The result document: assembled in one place, written atomically."""
import json

from .progress import write_atomically


def assemble(image_info, meta, hints, stars, solution, files, solver, timing):
    result = {
        "solved": solution is not None,
        "image": image_info,
        "exif": meta.exif,
        "calibration": None,
        "objects_in_field": [],
        "annotations": [],
        "stars": stars,
        "hints": hints,
        "files": files,
        "solver": solver,
        "timing": timing,
    }
    if solution is not None:
        result["calibration"] = solution["calibration"]
        result["objects_in_field"] = solution["objects_in_field"]
        result["annotations"] = solution["annotations"]
    return result


def write_result(path, result):
    write_atomically(path, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
